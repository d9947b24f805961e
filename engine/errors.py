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
