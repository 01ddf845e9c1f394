"""Networks: the SRResNet/SRGAN generator (``srresnet``), its inference form (``inference_form``:
BatchNorm folding, sub-pixel tail), the discriminator, VGG features, the frame-recurrent video
generator (``frvsr``) and the weights file format (``weights_file``). Nothing here knows about
training or inference."""
