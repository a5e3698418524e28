"""MMLU-Redux's spec (see :mod:`goodbadgreedy.benchmarks.mmlu_redux`)."""

from goodbadgreedy.benchmarks.spec import BenchmarkSpec

#: The 57 MMLU subjects (Hendrycks et al. 2021), one CSV each.
SUBJECTS: tuple[str, ...] = (
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge",
    "college_biology", "college_chemistry", "college_computer_science", "college_mathematics",
    "college_medicine", "college_physics", "computer_security", "conceptual_physics",
    "econometrics", "electrical_engineering", "elementary_mathematics", "formal_logic",
    "global_facts", "high_school_biology", "high_school_chemistry",
    "high_school_computer_science", "high_school_european_history", "high_school_geography",
    "high_school_government_and_politics", "high_school_macroeconomics",
    "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history",
    "high_school_world_history", "human_aging", "human_sexuality", "international_law",
    "jurisprudence", "logical_fallacies", "machine_learning", "management", "marketing",
    "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law",
    "professional_medicine", "professional_psychology", "public_relations", "security_studies",
    "sociology", "us_foreign_policy", "virology", "world_religions",
)  # fmt: skip

SPEC = BenchmarkSpec(
    name="mmlu_redux",
    raw_files=tuple(f"mmlu_{s}.csv" for s in SUBJECTS),
    options={
        "wrong_groundtruth": {
            "enum": ["corrected", "original", "drop"],
            "default": "corrected",
            "description": "rows flagged wrong_groundtruth: corrected answer, original answer, or dropped",
        },
    },
    n_items={"default": 200, "smoke": 3, "full": None},
    max_new_tokens={"default": 24, "smoke": 8, "full": 64},
)
