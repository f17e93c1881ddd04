"""Evaluation results written once: the card's `evaluation:` gives the README table, the `model-index`
and the Hub's `.eval_results/*.yaml` files (``entries``); benchmark identity (``benchmarks``, the rule in
``rules``); reading evaluation logs into a card (``logs``, ``add``); `.eval_results/` and README score
tables read back (``imported``); what a repository already holds on the Hub (``published``)."""

from cardgen.diagnostics import declare

declare("CG654", "evaluation log of another model")
declare("CG655", "not an evaluation log cardgen reads")
declare("CG656", "task of no benchmark cardgen knows: not written to `.eval_results/`", "warning")
declare("CG657", "evaluation results on the Hub cannot be read", "warning")
