"""Train at image build time: data/train.csv -> model/ (the service also trains when the file is missing)."""
from service.model import save, train

if __name__ == "__main__":
    model = train()
    print(f"trained {model}; saved to {save(model)}")
