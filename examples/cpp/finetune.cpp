// Fine-tunes (or trains from scratch) a native model on an .npz dataset in MedMNIST's layout
// with pepr's training engine, metered epoch by epoch, and prints each epoch's test accuracy and
// energy.
//   finetune DATA.npz [MODEL] [EPOCHS] [WEIGHTS.safetensors]
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include <pepr/train.hpp>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DATA.npz [MODEL] [EPOCHS] [WEIGHTS.safetensors]\n", argv[0]);
    return 2;
  }
  pepr::TrainConfig c;
  c.data = argv[1];
  c.model = argc > 2 ? argv[2] : "resnet18";
  c.epochs = argc > 3 ? std::atoi(argv[3]) : 1;
  if (argc > 4) c.weights = argv[4];  // pretrained weights: fine-tuning
  c.threads = 2;
  try {
    const pepr::RunRecord rec = pepr::train_run(c);
    for (const auto& e : rec.epoch_list())
      std::printf("epoch %lld: test acc %.4f, %.3g Wh\n", static_cast<long long>(*e.epoch),
                  e.test_acc.value_or(-1.0), e.energy_kwh.value_or(0) * 1000);
    std::printf("status %s, %lld parameters\n", std::string(pepr::run::name(rec.status)).c_str(),
                static_cast<long long>(rec.model->params.value_or(0)));
    return rec.status == pepr::RunStatus::completed ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finetune: %s\n", e.what());
    return 1;
  }
}
