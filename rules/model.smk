rule prepare_model:
    """Locate the model (packaged GGUF, hub id or folder), convert if needed, record its sha256."""
    output:
        "models/{model}/manifest.json",
    log:
        "logs/prepare_model/{model}.log",
    threads: workflow.cores
    resources:
        mem_mb=3000,
    params:
        code=CODE["prepare_model"],
        spec=model_spec,
    script:
        "../scripts/prepare_model.py"
