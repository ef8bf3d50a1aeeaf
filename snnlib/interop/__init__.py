"""Exchange with other simulators: NIR graphs (:mod:`snnlib.interop.nir`), other libraries' importers
(:mod:`snnlib.interop.importers`) and NEST as an independent oracle (:mod:`snnlib.interop.nest`)."""
