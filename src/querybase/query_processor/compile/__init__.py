"""Compilers: MBQL to a SQLAlchemy SELECT; native SQL to bound text."""
