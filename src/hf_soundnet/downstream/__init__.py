"""Using the representation on labelled sound: labelled datasets (`labelled_audio`), fine-tuning (`finetuning`),
the linear probe of the paper's users (`linear_probe`) and local evaluate modules (`metrics`)."""
