// Fine-tunes (or trains from scratch) a native model on an .npz dataset in MedMNIST's layout
// with pepr's training engine, metered epoch by epoch, and prints each epoch's test accuracy and
// energy.
//   finetune DATA.npz [MODEL] [EPOCHS] [WEIGHTS.safetensors]
#include <cstdio>
#include <cstdlib>
#include <exception>

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
    nlohmann::json rec = pepr::train_run(c);
    for (const auto& e : rec["epochs"])
      std::printf("epoch %d: test acc %.4f, %.3g Wh\n", e["epoch"].get<int>(),
                  e["test_acc"].is_number() ? e["test_acc"].get<double>() : -1.0,
                  e["energy_kwh"].get<double>() * 1000);
    std::printf("status %s, %s parameters\n", rec["status"].get<std::string>().c_str(),
                rec["model"]["params"].dump().c_str());
    return rec["status"] == "completed" ? 0 : 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "finetune: %s\n", e.what());
    return 1;
  }
}
