"""Input normalisation: every accepted form of each modality becomes one clean form, once, early.

- :func:`cxsense.inputs.image.load_image` -> :class:`~cxsense.inputs.image.Image` (uint8 RGB array)
- :func:`cxsense.inputs.audio.load_audio` -> ``Audio`` (float32 mono samples and a rate)
- :func:`cxsense.inputs.physio.load_physio` -> ``PhysioInput`` (channels at their own rates)

Encoders see only these forms. Bad input raises :class:`cxsense.InputError` here, before any model runs.
"""
