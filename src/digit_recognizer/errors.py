"""The exception types for what a user can fix, each with the exit status a script gives."""


class UserError(Exception):
    """A problem the user can fix; scripts print its message as one line and exit non-zero."""

    exit_code = 2


class TrainingInterrupted(UserError):
    """Training was stopped by Ctrl-C or SIGTERM after saving what it had."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # 128 + signal number, as a shell reports it


class ModelUnavailable(UserError):
    """No usable model: no trained run yet, or a missing, corrupt or foreign checkpoint."""


class ImageRejected(UserError):
    """The file is no usable digit image (unreadable, blank, too large, ...)."""


class NotADigit(ImageRejected):
    """The image was read, but what it shows is no digit (blank, a speck, a line, scribbles):
    an answer ("not a digit"), not a failure."""
