"""A FHIR R4 terminology service under ``/fhir`` over the same graph and services as ``/v1``.

Routes are thin: each reads the operation's inputs (query string or a ``Parameters`` body), calls the
``/v1`` service that answers the same question (lookup, navigation, subsumption, search, derivation) and
renders the answer as a ``fhir.resources`` model, so both APIs read the same data the same way.
"""
