"""One-off screens, measurements and migrations: kept as a record; no recipe imports them."""
