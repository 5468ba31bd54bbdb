"""The demo association that ``flask seed-demo`` loads: :mod:`devtools.demo.seed` builds
the profile, zones, members, one login per role and a year of books, then calls the
other areas' builders here (:mod:`~devtools.demo.mpesa`, :mod:`~devtools.demo.patrols`,
:mod:`~devtools.demo.meetings`), each through the app's own services.
"""
