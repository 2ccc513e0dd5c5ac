"""The one error of daemon.sheets: the file as a whole cannot be read as a table."""


class SheetError(ValueError):
    """A file that is not a table we can read: wrong type, no known header, no such sheet.

    Its message is one line naming the file and the reason, fit for the user."""
