"""The staff dashboard: django-admin-charts on the admin index and the original dashboard's views as admin
pages. It reads every app it shows through that app's selectors (it sits in analytics, above them all)."""
