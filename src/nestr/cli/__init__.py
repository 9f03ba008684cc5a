"""The command-line face: parse, call the library, render. Nothing else lives here."""
