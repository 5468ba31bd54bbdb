"""gunicorn's settings for this app: read from the working directory by the README's command
(``.venv/bin/gunicorn -w 2 --threads 4 -b 127.0.0.1:8000 wsgi:app``) and by the systemd unit
(deploy/systemd/association-web.service, WorkingDirectory=/srv/association). Flags on the
command line still win over what is set here.

The Server header: gunicorn (27) has no setting for it and writes ``Server: gunicorn`` on
every answer, from the module global ``gunicorn.http.wsgi.SERVER`` that each response reads
when it is made (its HTTP/2 responses inherit it). Its maintainers' advice for those who do
not want it (benoitc/gunicorn#825, #2189) is to set that value: set here, before any worker
starts, so every worker of the arbiter answers without naming the server.
"""

import gunicorn
from gunicorn.http import wsgi as _gunicorn_wsgi

#: What the Server header says: nothing about the software behind it (nginx in front
#: replaces it with its own, "nginx" with server_tokens off).
SERVER_HEADER = "association"

gunicorn.SERVER = SERVER_HEADER
_gunicorn_wsgi.SERVER = SERVER_HEADER
