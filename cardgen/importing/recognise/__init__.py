"""Structure in an imported card's body: the parts cardgen can hold as typed fields.

Each recogniser finds a part of the body (a range of its lines) that one section slot can show from
data: BibTeX blocks (`citations`, `cite_as`), the prompt-format block (`prompt`), hyperparameter and
architecture tables and a list of datasets (`training`), a GPTQ or GGUF table of provided files
(`quantization`), a flattened risk section (`risk_assessment`), the transformers usage snippet (`usage`),
a licence named in the body only (`license`). The part becomes a ``Claim``: the fields, and the slot's
own partial, which is the original's text with the data replaced by the expressions that show it (so
the layout stays the author's, and the facts are data). ``cardgen.importing.verify`` renders every
claim and keeps only those whose rendering gives back the original's blocks; the rest stays free text.

``claims`` holds the ``Claim``, the parsed ``Body`` and the helpers the recognisers share; ``registry``
the table of recognisers, each given the same ``Context``; one module per recogniser registers it
there; ``run`` imports them all and applies them in their order.
"""
