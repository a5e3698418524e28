"""report: the self-contained HTML report (tables, inlined plots, lineage of every table)."""

from goodbadgreedy.stage_log import run


def main(sm) -> None:
    from goodbadgreedy.html_report import build_report
    from goodbadgreedy.io import write_text
    from goodbadgreedy.lineage import write_lineage
    from goodbadgreedy.plan import STATS_FILES
    from goodbadgreedy.stats.runs import STD_DDOF

    p = sm.params
    html = build_report(
        table1=sm.input.table1,
        stats={name: sm.input[name] for name in STATS_FILES},
        plots={"table1": sm.input.plot_table1, "pass_at_k": sm.input.plot_pass_at_k},
        sweeps=dict(zip(p.sweeps, sm.input.sweeps, strict=True)),
        best_of_n=list(sm.input.best_of_n),
        meta={"profile": p.profile, "outdir": p.outdir, "n_samples": p.n_samples, "greedy": p.table1_configs[0],
              "sample": p.table1_configs[1], "ddof": STD_DDOF, "confidence": p.stats["confidence"],
              "n_boot": p.stats["n_boot"], "seed": p.seed},
    )
    write_text(html, sm.output[0])
    write_lineage(sm.output[0], stage=sm.rule, inputs=sm.input, params=sm.params)


run(snakemake, main)  # the job's log first, then main; a failure removes the outputs' sidecars
