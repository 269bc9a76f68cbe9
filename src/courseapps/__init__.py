"""The course's FastAPI apps, one small module each; notebooks start them with kafkacourse.serve(),
and tests/apps/ tests each of them on its own."""
