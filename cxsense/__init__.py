"""cxsense: how a person appears to feel, from face, voice and body signals, on the user's own machine.

>>> import cxsense
>>> a = cxsense.assess(face="photo.jpg")  # doctest: +SKIP
>>> a.emotion, a.confidence, a.valence, a.arousal, a.stress  # doctest: +SKIP

Outputs are estimates of expressed affect, never of identity. Nothing is downloaded, sent or written.
"""

from ._version import __version__
from .api import assess as assess
from .api import assess_faces as assess_faces
from .api import warm_up as warm_up
from .assessment import Assessment as Assessment
from .emotions import EMOTIONS as EMOTIONS
from .encoders.base import ModalityResult as ModalityResult
from .errors import CxsenseError as CxsenseError
from .errors import InputError as InputError
from .errors import ModelError as ModelError
from .errors import NoSignalError as NoSignalError
from .errors import NotAvailableError as NotAvailableError
from .errors import PolicyError as PolicyError
from .session import LiveSession as LiveSession
from .session import Session as Session
from .session import analyze_session as analyze_session
from .study import Study as Study
from .study import analyze_study as analyze_study

__all__ = [
    "EMOTIONS",
    "assess",
    "assess_faces",
    "warm_up",
    "Assessment",
    "ModalityResult",
    "CxsenseError",
    "InputError",
    "NoSignalError",
    "ModelError",
    "NotAvailableError",
    "PolicyError",
    "analyze_session",
    "Session",
    "LiveSession",
    "analyze_study",
    "Study",
    "__version__",
]
