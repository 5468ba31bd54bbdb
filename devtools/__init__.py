"""Development tools kept out of the application package: the demo association
(``flask seed-demo``, built by :mod:`devtools.demo`) and the local Daraja sandbox
(``flask mpesa sandbox``, :mod:`devtools.daraja_sandbox`). ``make run``, the tests, the
browser journeys, the benchmarks and the nginx smoke test use them; a production image
leaves this folder out (deploy/Dockerfile), and ``create_app`` then simply has no such
commands. The app package never imports it at module level: ``register_commands`` adds
:mod:`devtools.cli`'s commands when the package is importable.
"""
