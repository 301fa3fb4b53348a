"""Analysis: parso tree -> facts about tensors, grad, views and saved tensors -> rule findings."""
