"""Who may do what, decided in one place.

- `groups`: permission groups and memberships (All Users, Administrators).
- `data`: data permissions per group x database/table, what a user holds, the setters and the defaults
  for new databases, groups and tables.
- `collection`: who may read or curate a collection, and the collection graph.
- `query`: whether a user may run a query.
- `checks`: the checks endpoints make with these rules (Metabase's 404, then 403), and what listings show.
- `data_graph`, `revision`: the data graph of `/api/permissions/graph` and the revisions of both graphs.
"""
