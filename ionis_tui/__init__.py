"""ionis-tui: the Textual cockpit for training and verifying IONIS."""
