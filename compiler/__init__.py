"""cdpc: a data-as-code compiler for customer data platforms."""

__version__ = "0.1.0"
