from django.conf import settings
from django.db import migrations, models
import django.db.models.deletion
import django.utils.timezone


class Migration(migrations.Migration):
    # Split from 0001 so that oauth2_provider (which depends on the user model)
    # can migrate between the two: no circular dependency.
    dependencies = [
        ("accounts", "0001_user"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [
        migrations.CreateModel(
            name='DeviceToken',
            fields=[
                ('access_token', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='device', serialize=False, to=settings.OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL)),
                ('device_id', models.CharField(max_length=128)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('user', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='device_tokens', to=settings.AUTH_USER_MODEL)),
            ],
        ),
        migrations.AddIndex(
            model_name='devicetoken',
            index=models.Index(fields=['user', 'device_id'], name='accounts_de_user_id_ccbef9_idx'),
        ),
    ]
