from django.apps import AppConfig


class EnrollmentConfig(AppConfig):
    name = "gatehouse.enrollment"
    label = "enrollment"
