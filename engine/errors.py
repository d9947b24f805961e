"""Error types the engine raises for bad input; each carries a message fit to show a user."""


class IonisError(Exception):
    """Base class: the message is complete and readable on its own, no traceback needed."""


class SettingsError(IonisError):
    """A settings file or an IONIS_* environment value is invalid."""


class InputError(IonisError):
    """A user-supplied value (grid, band, SFI, Kp, hour...) is out of range or malformed."""


class CheckpointError(IonisError):
    """A checkpoint file cannot be read or does not match the model."""


class DataError(IonisError):
    """The database cannot be reached or does not hold usable signature data.

    `setting` names the settings key the user should look at (e.g. "database.host")."""

    def __init__(self, message: str, setting: str = ""):
        super().__init__(message)
        self.setting = setting


class StorageError(IonisError):
    """A file or folder the tool must write or read cannot be used (full disk, a file where
    a folder belongs, no permission). The message names the path and the fix."""


def describe_os_error(exc: OSError) -> str:
    """One line for a file-system fault: the path, what is wrong, and what to do."""
    import errno

    # A failed rename (temp file -> target) names the target: the temp file is our detail.
    path = exc.filename2 or exc.filename or "(unknown path)"
    fixes = {
        errno.ENOSPC: "the disk is full: free some space, or point runs.dir at another disk",
        errno.EFBIG: "the file grew past the size this process may write (ulimit -f): raise the limit",
        errno.EDQUOT: "the disk quota is used up: free some space, or point runs.dir elsewhere",
        errno.EROFS: "the file system is read-only: point runs.dir at a writable folder",
        errno.EACCES: "permission denied: fix the permissions, or point runs.dir elsewhere",
        errno.EPERM: "permission denied: fix the permissions, or point runs.dir elsewhere",
        errno.ENOTDIR: "a file stands where a folder must be: move that file away",
        errno.EEXIST: "a file stands where a folder must be: move that file away",
        errno.EISDIR: "a folder stands where a file must be: move that folder away",
    }
    fix = fixes.get(exc.errno, exc.strerror or type(exc).__name__)
    return f"cannot use {path}: {fix}"
