"""Every size, rate and count that bounds the cost of one call, in one place (see ``docs/limits.md``).

Each limit is checked on what an input *claims* (an array's shape, a file header's size, rate, channels and
length) before anything that scales with the claim is allocated. Beyond a limit the call raises
:class:`cxsense.InputError` naming the parameter, the limit and what was given. Within the limits, the work is
bounded too: audio is decoded and resampled block by block, the face detector works on a bounded number of
pixels and tiles per call. ``benchmarks/hostile.py`` measures the peak memory and time of inputs made to
press against these limits.

The input modules re-export the names they use under their older names (``cxsense.inputs.image.MAX_PIXELS``,
``cxsense.inputs.audio.MAX_DURATION_S``, ...).
"""

from __future__ import annotations

__all__ = [
    "IMAGE_MAX_PIXELS", "IMAGE_MAX_FILE_BYTES", "IMAGE_MIN_SIDE", "IMAGE_MAX_ASPECT",
    "DETECT_TILE", "DETECT_TILE_STEP", "DETECT_MAX_TILES", "DETECT_CLOSEUP_MAX_SIDE",
    "AUDIO_MIN_RATE", "AUDIO_MAX_RATE", "AUDIO_MAX_DURATION_S", "AUDIO_MAX_ARRAY_CHANNELS",
    "AUDIO_MAX_FILE_CHANNELS", "AUDIO_BLOCK_FRAMES",
    "PHYSIO_MAX_RATE", "PHYSIO_MIN_DURATION_S", "PHYSIO_MAX_SAMPLES", "PHYSIO_TRAINED_WINDOW_S",
    "PHYSIO_FULL_QUALITY_WINDOW_S", "PHYSIO_MAX_ABS",
]

# ------------------------------------------------------------------------------------------------ images
#: Largest image, in pixels (64 megapixels), from the array's shape or the file header, before decoding.
IMAGE_MAX_PIXELS = 64_000_000
#: Largest encoded image file or byte string (100 MB).
IMAGE_MAX_FILE_BYTES = 100_000_000
#: Smallest side, in pixels.
IMAGE_MIN_SIDE = 8
#: Largest ratio of the longer side to the shorter (20:1 holds wide panoramas; an 8 x 7,999,999 strip is refused).
IMAGE_MAX_ASPECT = 20.0

# ------------------------------------------------------------------------------------------ face detector
#: Side of the tiles of the detector's small-face pass, and the step between them (a quarter overlap).
DETECT_TILE = 384
DETECT_TILE_STEP = 288
#: Most tiles one call runs. A larger image is downscaled for the tiled pass until its grid fits: faces down
#: to about 24 pixels are found in images of up to about 5,800 x 5,800 (20 x 20 tiles; a 24-megapixel
#: 6000 x 4000 photo needs 294); in an 8000 x 8000 image the smallest face found is about 34 pixels.
DETECT_MAX_TILES = 400
#: The close-up passes (the image padded to 2 and 3 times its size, for faces that fill it) run on the image
#: downscaled to at most this side: the padded image is read at 192 x 192 anyway.
DETECT_CLOSEUP_MAX_SIDE = 1024

# ------------------------------------------------------------------------------------------------- audio
#: Lowest and highest sampling rate accepted, Hz, for arrays and for file headers alike.
AUDIO_MIN_RATE = 1_000
AUDIO_MAX_RATE = 384_000
#: Longest audio, seconds (10 minutes). A file whose header claims more is refused before decoding; a file that
#: holds more than its header says is refused once decoding passes this length (it is decoded block by block).
#: The bound is the voice encoder's: its features (spectrogram, pitch, statistics over the whole recording) and
#: its network cost about 90 MB per minute of audio, so 10 minutes peak at about +0.9 GB (an hour, the limit
#: before, at about +5.5 GB). Longer recordings: cut them, or use a session, which reads audio window by window.
AUDIO_MAX_DURATION_S = 600.0
#: Most channels of a 2-D array (the shorter axis is the channel axis, so it must be short).
AUDIO_MAX_ARRAY_CHANNELS = 8
#: Most channels of an audio file (channels are averaged block by block, so they cost time, not memory).
AUDIO_MAX_FILE_CHANNELS = 64
#: Frames decoded, mixed down and resampled at a time.
AUDIO_BLOCK_FRAMES = 1 << 18

# ---------------------------------------------------------------------------------------------- physiology
#: Highest sampling rate of a physiological channel, Hz (the lowest is per channel: ``cxsense.inputs.physio``).
PHYSIO_MAX_RATE = 100_000.0
#: Shortest channel, seconds.
PHYSIO_MIN_DURATION_S = 10.0
#: Most samples in one channel (20 million: 5.5 h at 1 kHz, 87 h at 64 Hz), checked on the array's shape.
PHYSIO_MAX_SAMPLES = 20_000_000
#: Largest magnitude of a sample (1e12 in any unit). Real ECG, PPG, EDA, respiration, temperature and
#: acceleration values lie many orders of magnitude below; beyond, the signal processing overflows.
PHYSIO_MAX_ABS = 1e12
#: The window length the stress models were trained on, seconds.
PHYSIO_TRAINED_WINDOW_S = 60.0
#: Window lengths, seconds, that keep the full quality: from the trained length to the longest measured one
#: (dev AUC 0.741 at 60 s, 0.769 at 120 s, 0.853 at 300 s, 0.856 at 600 s; ``benchmarks/physio_window_length.py``).
#: Shorter windows get ``sqrt(d / 60)``, longer ones ``sqrt(600 / d)`` (``cxsense.encoders.physio.quality``).
PHYSIO_FULL_QUALITY_WINDOW_S = (60.0, 600.0)
