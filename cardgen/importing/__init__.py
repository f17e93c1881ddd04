"""Existing README cards into card sources (`cardgen import`), and an edit made on the Hub back into them
(`cardgen import --merge`).

``run`` runs an import: the READMEs read (``readmes``), each into an ``Imported`` card (``imported``)
from its front matter (``front_matter``) and its body (``body``, with the parts ``recognise`` finds),
the recognised parts checked by rendering them back (``verify``), the facts several cards write shared
(``share``). ``merge`` places a Hub edit in the sources; ``blocks`` reads a README as blocks, for
comparing.
"""
