#!/usr/bin/env python3
"""Bad-input catalogue for qconvert (docs/security.md): every way a build pipeline can feed us bad
input, a bad destination or a signal, with the outcome each must have (see catalogue.py for the
contract). Each cases_*.py module holds one class of cases. Prints one line per case, a table
(case, expected, observed), and "N passed, N failed".

Run by meson (suite bad_inputs); needs QCONVERT and QC_SOURCE_ROOT. Arguments: optional case-name
substrings, to run only those cases while debugging."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import catalogue  # noqa: E402
import cases_models  # noqa: E402
import cases_outputs  # noqa: E402
import cases_qdq  # noqa: E402
import cases_readers  # noqa: E402

if __name__ == "__main__":
    catalogue.run_catalogue([cases_models, cases_outputs, cases_qdq, cases_readers])
