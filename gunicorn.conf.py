"""gunicorn settings, read from the working directory by `gunicorn 'app:create_app()'`."""

import os

bind = os.environ.get("BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
accesslog = "-"
# The path only: SCIM query strings carry filters such as userName eq "someone@corp", which are
# personal data and must stay out of logs (as the request log in the database keeps them out).
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
