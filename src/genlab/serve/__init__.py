"""The local web explorer (`genlab serve`)."""
