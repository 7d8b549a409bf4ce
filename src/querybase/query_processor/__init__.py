"""The query processor: an MBQL or native query in, Metabase's result out.

    query → PREPROCESS steps → compile → execute → POSTPROCESS steps → Result

Each phase is a tuple of small named steps (`pipeline.py` runs them, timing each and naming the step in
any error). Rows stay a lazy iterator from the database cursor to the HTTP response, so exports of any
size stream with flat memory.

Entry points live in `process.py` (`prepare`, then `run`); this package imports nothing eagerly, so
drivers can use `query_processor.errors` without an import cycle.
"""
