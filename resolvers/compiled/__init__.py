"""The compiled read path: a query's selection answered by one SQL statement (see compiler)."""
