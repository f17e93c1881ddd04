"""Checks beyond the schema, each one small function registered with its code.

A rule declares its code, title, default severity and the rule it enforces (a Hub rule, with where
the Hub documents it, or cardgen's own), and yields what it finds:

* ``@metadata_rule``: front matter, whether computed from a card or read from a published README;
  the function gets a ``Meta`` and yields ``(path, message)``, the path into the front matter;
* ``@card_rule``: what only sources have (prompt placeholders, citations, section anchors, risks);
  the function gets a resolved ``Card`` and yields ``(where, message)``;
* ``@project_rule``: what needs every card of a cards folder at once (the shared catalogues).

The table and the decorators are in ``registry``; ``run`` imports every rule module and runs them.
``cardgen codes`` lists the codes from the same table (``diagnostics.CODES``). Adding a Hub rule
is one function in the module of its kind, and its test.
"""
