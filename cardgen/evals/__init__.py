"""Evaluation results written once: the card's `evaluation:` gives the README table, the `model-index`
and the Hub's `.eval_results/*.yaml` files (``entries``); benchmark identity (``benchmarks``, the rule in
``rules``); reading evaluation logs into a card (``logs``, ``add``); `.eval_results/` and README score
tables read back (``imported``); what a repository already holds on the Hub (``published``)."""
