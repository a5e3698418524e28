# Figures and the self-contained HTML report (DVC stage report); input functions in rules/common.smk.
from goodbadgreedy.plan import SWEEP_PARAMS


rule plots:
    """Table-1 bars with error bars and pass@k curves (PNG)."""
    input:
        intervals=f"{OUT}/stats/intervals.csv",
        passk=f"{OUT}/stats/passk.csv",
    output:
        table1=f"{OUT}/plots/table1.png",
        pass_at_k=f"{OUT}/plots/pass_at_k.png",
    log:
        f"logs/{PLAN.profile}/plots.log",
    params:
        code=CODE["plots"],
        table1_configs=TABLE1_CONFIGS,
    script:
        "../scripts/make_plots.py"


rule sweep_plot:
    """Score against one decoding parameter that several sampling configs vary (PNG)."""
    input:
        intervals=f"{OUT}/stats/intervals.csv",
    output:
        f"{OUT}/plots/sweep_{{param}}.png",
    log:
        f"logs/{PLAN.profile}/sweep_plot/{{param}}.log",
    wildcard_constraints:
        param="|".join(SWEEP_PARAMS),
    params:
        code=CODE["sweep_plot"],
        sweep=sweep_values,
        table1_configs=TABLE1_CONFIGS,
        families=FAMILIES,
    script:
        "../scripts/sweep_plot.py"


rule best_of_n_plot:
    """Best-of-N accuracy against N per scorer, with the greedy line (PNG)."""
    input:
        table=f"{OUT}/stats/best_of_n.csv",
        checks=per_config("checks", GREEDY_CONFIGS),
    output:
        f"{OUT}/plots/best_of_n.png",
    log:
        f"logs/{PLAN.profile}/best_of_n_plot.log",
    params:
        code=CODE["best_of_n_plot"],
        greedy_configs=GREEDY_CONFIGS,
    script:
        "../scripts/best_of_n_plot.py"


rule report:
    """Self-contained HTML report: Table 1, stats tables, plots and the lineage of each table."""
    input:
        **stats_outputs(),
        template="src/goodbadgreedy/templates/report.html.j2",
        table1=f"{OUT}/table1.csv",
        plot_table1=f"{OUT}/plots/table1.png",
        plot_pass_at_k=f"{OUT}/plots/pass_at_k.png",
        sweeps=list(sweep_plots().values()),
        best_of_n=best_of_n_outputs() + best_of_n_plots(),
    output:
        f"{OUT}/report.html",
    log:
        f"logs/{PLAN.profile}/report.log",
    params:
        code=CODE["report"],
        profile=PLAN.profile,
        outdir=OUT,
        n_samples=PLAN.n_samples,
        table1_configs=TABLE1_CONFIGS,
        stats=STATS_CONFIG,
        seed=config["seed"],
        sweeps=list(SWEEPS),
    script:
        "../scripts/make_report.py"
