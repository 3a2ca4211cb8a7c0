"""Activities: everything a case does outside its workflow — the calendar, the database, notifications."""
