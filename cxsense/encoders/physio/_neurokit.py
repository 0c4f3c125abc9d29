"""NeuroKit2 without the side effects of its import: no file written, no socket opened.

``import neurokit2`` imports matplotlib (which creates ``$HOME/.config/matplotlib`` and writes a font cache to
``$HOME/.cache/matplotlib``) and, through ``neurokit2.data``, requests (whose urllib3 opens an IPv6 socket and binds
it to ``::1`` to probe for IPv6). cxsense uses none of that: only NeuroKit2's filters and peak detectors.

:func:`neurokit` therefore loads a private copy of the installed NeuroKit2 package under the name
``cxsense.encoders.physio._neurokit_pkg``: the same files, executed with an ``__import__`` of their own in which
``matplotlib`` and ``requests`` are placeholders (attribute access works, any call raises
:class:`~cxsense.errors.NotAvailableError`; NeuroKit2 calls them only to plot or download). Nothing is
patched globally: ``sys.modules["matplotlib"]``, ``sys.modules["neurokit2"]`` and the caller's environment are
left alone, and the copy writes no bytecode cache. If the caller has already imported ``neurokit2`` itself, that
module is used (its side effects have happened already); both run the same code and give the same numbers.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import importlib.util
import os
import sys
import threading

__all__ = ["neurokit", "PRIVATE_NAME"]

#: The name the private copy lives under.
PRIVATE_NAME = __name__ + "_pkg"
#: Top-level packages that the private copy sees as placeholders.
BLOCKED = ("matplotlib", "requests")

_lock = threading.Lock()
_module = None


class _Unavailable:
    """A stand-in for a blocked package, or anything reached through it."""

    def __init__(self, name: str):
        object.__setattr__(self, "_name", name)

    def __getattr__(self, attr: str):
        if attr.startswith("__") and attr.endswith("__"):
            raise AttributeError(attr)
        return _Unavailable(f"{self._name}.{attr}")

    def __call__(self, *args, **kwargs):
        from ...errors import NotAvailableError

        raise NotAvailableError(f"{self._name} is not loaded by cxsense's private NeuroKit2 (it plots or downloads, "
                                "which cxsense never does)")

    def __repr__(self) -> str:
        return f"<unavailable {self._name}>"


_real_import = builtins.__import__


def _import(name, globals=None, locals=None, fromlist=(), level=0):
    if level == 0 and name.split(".", 1)[0] in BLOCKED:
        return _Unavailable(name if fromlist else name.split(".", 1)[0])
    return _real_import(name, globals, locals, fromlist, level)


_BUILTINS = dict(builtins.__dict__, __import__=_import)


class _Loader(importlib.machinery.SourceFileLoader):
    """NeuroKit2's own source (or its installed bytecode), run with :data:`_BUILTINS`; writes no bytecode."""

    def exec_module(self, module) -> None:
        module.__dict__["__builtins__"] = _BUILTINS
        super().exec_module(module)

    def set_data(self, path, data, *, _mode=0o666) -> None:  # never write __pycache__ files
        return None


class _Finder:
    """Finds ``PRIVATE_NAME`` and its submodules among the installed NeuroKit2's files."""

    def __init__(self, root: str):
        self.root = root

    def find_spec(self, fullname, path=None, target=None):
        if fullname != PRIVATE_NAME and not fullname.startswith(PRIVATE_NAME + "."):
            return None
        parts = fullname[len(PRIVATE_NAME):].split(".")[1:]
        base = os.path.join(self.root, *parts)
        init = os.path.join(base, "__init__.py")
        if os.path.isfile(init):
            return importlib.util.spec_from_file_location(fullname, init, loader=_Loader(fullname, init),
                                                          submodule_search_locations=[base])
        if os.path.isfile(base + ".py"):
            return importlib.util.spec_from_file_location(fullname, base + ".py", loader=_Loader(fullname, base + ".py"))
        return None

    def invalidate_caches(self) -> None:
        pass


def neurokit():
    """The NeuroKit2 module to call: the caller's ``neurokit2`` if imported already, else the private copy.

    Raises
    ------
    cxsense.NotAvailableError
        NeuroKit2 is not installed.
    """
    global _module
    if "neurokit2" in sys.modules:
        return sys.modules["neurokit2"]
    if _module is not None:
        return _module
    with _lock:
        if _module is None:
            spec = importlib.util.find_spec("neurokit2")  # locates the package; imports nothing
            if spec is None or not spec.submodule_search_locations:
                from ...errors import NotAvailableError

                raise NotAvailableError("physiology needs the neurokit2 package, which is not installed")
            # the finder stays: it claims only names under PRIVATE_NAME, and a submodule that NeuroKit2 imports
            # lazily, inside a function, must load the same way
            sys.meta_path.insert(0, _Finder(list(spec.submodule_search_locations)[0]))
            _module = importlib.import_module(PRIVATE_NAME)
    return _module
