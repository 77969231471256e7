from model import save, train

if __name__ == "__main__":
    print("saved", save(train()))
