"""Existing README cards into card sources (`cardgen import`), and an edit made on the Hub back into them
(`cardgen import --merge`).

``run`` runs an import: the READMEs read (``readmes``), each into an ``Imported`` card (``imported``)
from its front matter (``front_matter``) and its body (``body``, with the parts ``recognise`` finds),
the recognised parts checked by rendering them back (``verify``), the facts several cards write shared
(``share``), the code carried over that smoke would run named for a reviewer (``carried``), and the sources
written inside the cards folder, never over existing ones unless forced (``write``). ``merge`` places a
Hub edit in the sources; ``blocks`` reads a README as blocks, for comparing.
"""
