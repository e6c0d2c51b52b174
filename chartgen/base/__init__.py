"""What every layer builds on: errors as data (``errors``), the version, reading input files
(``reading``), the one writer (``writer``), YAML in (``yamlsrc``) and out (``yamlout``), names
(``naming``), RE2 patterns as Envoy runs them (``envoy_regex``), compiled JSON-schema
validators (``schema_validators``), the user cache (``usercache``), external programs
(``toolchain``) and the header of generated files (``provenance``)."""
