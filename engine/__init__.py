"""IONIS engine: data, features, model, training, verification and matrix.

Headless by design: nothing in this package imports the Textual app.
"""

__version__ = "0.1.0"
