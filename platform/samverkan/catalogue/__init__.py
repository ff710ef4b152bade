"""The shared catalogue of e-service definitions and the form engine built from them."""
