"""One module per experiment family: a frozen ``Config``, ``run(config) -> xarray.Dataset`` and ``summarize``."""
