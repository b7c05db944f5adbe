"""Server-rendered pages of the officer UI."""
