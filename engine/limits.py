"""Limits shared by the settings fields and the command-line checks: one source of truth,
so a value the CLI accepts is one the settings accept again on --resume.

A leaf module with no imports: the CLI checks its arguments without loading pydantic."""

MAX_EPOCHS = 100_000
MAX_DEMO_ROWS = 100_000_000
# The space weather the model documents: predict, matrix and verify accept these and no more.
SFI_RANGE = (50.0, 400.0)
KP_RANGE = (0.0, 9.0)
