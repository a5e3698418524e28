"""LLM-as-a-judge: one client on any OpenAI-compatible endpoint, verdict parsers, win rates.

* :mod:`~goodbadgreedy.judge.client`: :class:`JudgeClient` (greedy, seeded, cached judgements);
* :mod:`~goodbadgreedy.judge.parsing`: parsers of judge outputs (MixEval, AlpacaEval, Arena-Hard);
* :mod:`~goodbadgreedy.judge.check`: the check table of a judge-based benchmark;
* :mod:`~goodbadgreedy.judge.winrate`: win rate and length-controlled win rate.
"""
