"""stad-convert: train the spatio-temporal forecaster on normal data and export a model bundle."""
